# expect: CWE-502
import torch
def load_model(path):
    return torch.load(path)
