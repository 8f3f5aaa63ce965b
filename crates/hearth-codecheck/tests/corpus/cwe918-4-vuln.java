// expect: CWE-918
import java.net.*;
import javax.servlet.http.*;
class Preview extends HttpServlet {
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws Exception {
        URLConnection c = new URL(req.getParameter("u")).openConnection();
        c.getInputStream().transferTo(resp.getOutputStream());
    }
}
