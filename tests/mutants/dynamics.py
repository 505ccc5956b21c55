"""Mutants of the dynamics chapter (placeholder list; the chapter's owner completes it)."""
from harness import Mutant

MUTANTS = [
    Mutant("probe", "harness probe", "dltheory.dynamics.euler:euler_convergence", lambda f: f),
]
