-- Current usage covers at most one period per subscription: the one in progress at as_of.
select external_subscription_id, count(distinct from_datetime) as periods
from {{ ref('fct_current_usage') }}
group by external_subscription_id
having count(distinct from_datetime) > 1
