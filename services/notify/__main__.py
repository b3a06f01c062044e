"""`python -m services.notify`: the outbox sender (mail and webhooks)."""
import sys

from services.notify.sender import main

sys.exit(main())
