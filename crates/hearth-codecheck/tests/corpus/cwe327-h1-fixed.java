// expect: none
import javax.crypto.Cipher;
class Legacy {
    Cipher c() throws Exception { return Cipher.getInstance("ChaCha20-Poly1305"); }
}
