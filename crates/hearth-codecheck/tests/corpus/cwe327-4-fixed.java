// expect: none
import javax.crypto.Cipher;
class Box {
    Cipher cipher() throws Exception { return Cipher.getInstance("AES/GCM/NoPadding"); }
}
