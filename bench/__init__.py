"""Load harness for the message path: our gateway side by side with a Socket.IO peer and a floor."""
