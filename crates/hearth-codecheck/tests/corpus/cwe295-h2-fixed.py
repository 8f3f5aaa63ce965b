# expect: none
import httpx
client = httpx.Client(verify="/etc/ssl/certs/internal-ca.pem")
