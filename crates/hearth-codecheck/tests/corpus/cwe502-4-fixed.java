// expect: none
import java.io.*;
class Receiver {
    Object read(InputStream in) throws Exception {
        ObjectInputStream ois = new ObjectInputStream(in);
        ois.setObjectInputFilter(ObjectInputFilter.Config.createFilter("com.example.Msg;!*"));
        return ois.readObject();
    }
}
