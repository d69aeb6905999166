"""The model layer: the weekly process as a ``mesa.Model`` (``model.py``), its parameters
(``params.py``), the array-backed population and tasks, the agents, costs, metrics and codes.
One file per submodel of docs/ODD.md section 7 lives in ``mechanisms/``.

Imports nothing from the other layers of ``sim``.
"""
