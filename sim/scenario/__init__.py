"""The scenario layer: YAML files and ``--set`` overrides to a validated ``Config`` and back,
and the parameter reference (``describe``). Imports only the model layer's parameters."""
