"""The long-running process: socket, privileges, signals, reloads."""
