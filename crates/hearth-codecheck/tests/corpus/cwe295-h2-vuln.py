# expect: CWE-295
import httpx
client = httpx.Client(verify=False)
