// expect: CWE-327
import javax.crypto.Cipher;
class Legacy {
    Cipher c() throws Exception { return Cipher.getInstance("DESede/CBC/PKCS5Padding"); }
}
