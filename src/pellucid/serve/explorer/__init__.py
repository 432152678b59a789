"""The interactive explorer: a browser front end over the service (``pellucid explore``).

The page (``static/``: plain HTML, JavaScript and SVG, shipped as package
data, loading nothing from anywhere else) talks to the service's own
endpoints (``/predict``, ``/explain``, ``/reasons``) and to the few this
package adds for what a row-by-row service cannot know: the explored rows
with their predictions (sorted, filtered and paged on the server, so 100,000
rows cost the browser one page), ICE curves, global importance and partial
dependence, anchors and counterfactuals. :class:`Explorer` computes them
without HTTP; ``pellucid.serve._app`` routes them.
"""

from __future__ import annotations

from ._explorer import STATIC_FILES, Explorer, static_file

__all__ = ["STATIC_FILES", "Explorer", "static_file"]
