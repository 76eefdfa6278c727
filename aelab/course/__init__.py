"""The instructors' side of the course: registry, nbgrader configuration, build, grading, classroom.

Nothing here is imported by the student library :mod:`aelab`; this subpackage needs the ``course``
extra (nbgrader, JupyterLab, nbclient). One module per command family; :mod:`aelab.course.cli`
only declares the ``aelab`` command's options.
"""

import sys as _sys

# jsonschema (under nbformat) loads the optional ``rfc3987_syntax`` package when it is installed
# (JupyterLab's jupyter-events pulls it in) and compiles its 38 grammars at import: 2.5-8 s in every
# process that reads a notebook, the grading sandbox's executor included. It only checks the "iri"
# string format, which no notebook schema uses, so the course's processes do without it.
_sys.modules.setdefault("rfc3987_syntax", None)
