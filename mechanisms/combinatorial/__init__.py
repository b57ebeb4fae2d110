"""Combinatorial APEX problems where local search is the heuristic (Braverman 2021, §2.1):
course allocation with capacities and facility location, each with a local-search H and an
exact H (MILP); the `course_allocation` and `facility_location` families (`mechanisms.py`)."""
