"""What a run of AlphaFold 3 prints, read: its progress by stage and why it failed."""
