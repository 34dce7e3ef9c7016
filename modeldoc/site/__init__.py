"""Sites built with MkDocs.

A standalone build (`build`), the MkDocs plugin (`plugin`) and the live preview (`serve`).
"""
