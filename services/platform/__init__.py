"""The platform every other part stands on: settings, the database and its migrations, logging, errors,
defaults, the disk.
"""
