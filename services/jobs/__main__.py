"""`python -m services.jobs ...`: the jobs command line (see services/jobs/cli.py)."""
import sys

from services.jobs.cli import main

sys.exit(main())
