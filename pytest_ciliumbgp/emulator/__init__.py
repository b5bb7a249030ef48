"""The embedded lab's insides: network namespaces, FRR, GoBGP speakers and the `cbgp-lab` command.

Nothing here imports pytest; the lab can be driven from a script or the command line.
"""
