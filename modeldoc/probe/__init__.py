"""Everything that touches torch or the user's code, behind one door.

Loading a target (`loader`), the files it came from (`sources`), guarded reads of user code
(`guard`), the static walk of the module tree (`static`), reading constructor arguments back
(`arguments`), and the traced forward pass with its time budget (`trace`, `deadline`). The rest
of modeldoc reads the `ModelSpec` this package produces and never imports torch.
"""
