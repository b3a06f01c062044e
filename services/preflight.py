"""`python -m services.preflight`: is this installation ready? (services/operations/preflight_report.py)"""
import sys

from services.operations.preflight_report import main

if __name__ == "__main__":
    sys.exit(main())
