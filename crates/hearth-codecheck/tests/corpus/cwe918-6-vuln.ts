// expect: CWE-918
import axios from 'axios';
export async function hook(req: Request) {
  const body = await req.json();
  return axios.post(body.callbackUrl, { ok: true });
}
