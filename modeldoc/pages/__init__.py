"""What a reader sees, from plain data.

Markdown pages (`render`, `layout`), the terminal table (`summary`) and the Jupyter display
(`notebook`).
"""
