"""The waiting room service: fair, verifiable admission to a sale (docs/waiting-room.md)."""
