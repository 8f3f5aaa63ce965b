// expect: none
import axios from 'axios';
const ALLOWED_CALLBACKS = ['https://hooks.example.com/notify'];
export async function hook(req: Request) {
  const body = await req.json();
  if (!ALLOWED_CALLBACKS.includes(body.callbackUrl)) throw new Error('callback not allowed');
  return axios.post(body.callbackUrl, { ok: true });
}
