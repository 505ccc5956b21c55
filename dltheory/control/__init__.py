"""Training as optimal control: Pontryagin costates, LQ control, DDP, MSA and learning-rate control."""
