"""The fault drills behind `make drill` (scripts/drill.py): harness, customers, faults, audit."""
