"""One deployment's desired state: the model, its validation against the module contract, and its sources."""
