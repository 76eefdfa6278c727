"""The instructors' side of the course: registry, nbgrader configuration, build, grading, classroom.

Nothing here is imported by the student library :mod:`aelab`; this subpackage needs the ``course``
extra (nbgrader, JupyterLab, nbclient). One module per command family; :mod:`aelab.course.cli`
only declares the ``aelab`` command's options.
"""
