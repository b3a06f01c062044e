"""The command from before services/ was grouped by layer; it runs the module it imports `main` from."""
import sys

from services.people.users import main

if __name__ == "__main__":
    sys.exit(main())
