"""The admin pages: queue, users, maintenance windows, the application log."""
