"""An independent, pure-Python reference of Lago's charge models (see charge_models.py).

It shares no code with the dbt models: the differential tests compare the two.
"""
