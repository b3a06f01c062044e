"""Screen pages (issue 26): submitting a screen (`/screens`) and one screen's table (`/screens/<id>`)."""
