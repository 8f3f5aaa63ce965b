// expect: CWE-295
import javax.net.ssl.*;
import java.security.cert.X509Certificate;
class TrustAll implements X509TrustManager {
    public void checkClientTrusted(X509Certificate[] c, String a) {}
    public void checkServerTrusted(X509Certificate[] c, String a) {}
    public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
}
