#!/bin/sh
# Entry point of the μNAS Web image: the first argument is the role.
#   web      Daphne serving nasweb.asgi:application on 0.0.0.0:${PORT:-8000}
#   worker   a Celery worker (scale with `docker compose up --scale worker=N`, or start more on
#            other machines with the same DATABASE_URL and REDIS_URL; docs/deploy.md)
#   beat     the Celery beat scheduler (the reaper that requeues lost work); run exactly one
#   migrate  apply database migrations, then exit
# Anything else is run as a command (e.g. `python manage.py createsuperuser`).
set -e

role="${1:-web}"
case "$role" in
  web|worker|beat|migrate)
    python /app/docker/wait_for_services.py
    ;;
esac

case "$role" in
  web)
    exec python -m nasweb.server -b 0.0.0.0 -p "${PORT:-8000}" --proxy-headers nasweb.asgi:application
    ;;
  worker)
    exec celery -A nasweb worker --loglevel="${CELERY_LOG_LEVEL:-INFO}" --pool=prefork \
      --concurrency="${UNAS_WORKER_CONCURRENCY:-1}"
    ;;
  beat)
    exec celery -A nasweb beat --loglevel="${CELERY_LOG_LEVEL:-INFO}" \
      --schedule=/data/work/celerybeat-schedule
    ;;
  migrate)
    exec python manage.py migrate --noinput
    ;;
  *)
    exec "$@"
    ;;
esac
