"""One deployment's desired state: the model, its validation against the module catalogs, and its sources."""
