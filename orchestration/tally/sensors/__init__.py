"""Sensors and the jobs they request: the landing folder's event files."""
from .landing import ingest_landing_job, landing_sensor, new_landing_files

__all__ = ["ingest_landing_job", "landing_sensor", "new_landing_files"]
