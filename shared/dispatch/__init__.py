"""Starting jobs on their handlers."""
