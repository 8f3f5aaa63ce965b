// expect: CWE-327
import javax.crypto.Cipher;
class Box {
    Cipher cipher() throws Exception { return Cipher.getInstance("AES/ECB/PKCS5Padding"); }
}
