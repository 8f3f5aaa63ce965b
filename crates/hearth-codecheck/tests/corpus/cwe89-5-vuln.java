// expect: CWE-89
import java.sql.*;
class UserDao {
    ResultSet byName(Connection c, String name) throws SQLException {
        Statement st = c.createStatement();
        return st.executeQuery("SELECT * FROM users WHERE name = '" + name + "'");
    }
}
