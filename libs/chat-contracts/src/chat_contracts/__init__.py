"""Wire contracts shared by the chat services. Nothing here may import a service."""
