// expect: none
import java.io.*;
import javax.servlet.http.*;
class Files extends HttpServlet {
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
        File base = new File("/var/data/");
        File f = new File(base, req.getParameter("name"));
        if (!f.getCanonicalPath().startsWith(base.getCanonicalPath())) { resp.sendError(403); return; }
        new FileInputStream(f).transferTo(resp.getOutputStream());
    }
}
