"""Background jobs: state in PostgreSQL, execution on Celery workers, one runner for all."""
