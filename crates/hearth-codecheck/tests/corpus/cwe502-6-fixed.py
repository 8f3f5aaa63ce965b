# expect: none
import torch
def load_model(path):
    return torch.load(path, weights_only=True)
