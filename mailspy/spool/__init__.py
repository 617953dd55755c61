"""The durable spool between end-of-message and the slow copies.

A copy owed to a pipe or a Maildir is written here and fsync'd before the
MTA gets its answer; workers deliver from here, retrying what fails for a
while, and a restart resumes whatever is left.
"""
