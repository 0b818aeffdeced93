// WssKerberosBST writes a SOAP 1.2 envelope whose Security header holds a
// Kerberos BinarySecurityToken made by Apache WSS4J's KerberosSecurity, as
// a WSS4J client sends it to an STS. It logs in with JAAS (Krb5LoginModule,
// user name and password from the command line) and asks Java GSS-API for
// a context with the host-based service name. It also writes the base64
// key WSS4J would sign with (KerberosSecurity.getSecretKey), so the test
// can check that the STS derives the same one.
//
//   java -cp wss4j.jar:xmlsec.jar:slf4j-api.jar:commons-logging.jar WssKerberosBST.java \
//       <krb5.conf> <user@REALM> <password> <service@host> <out.xml> <out.key>
//
// The password is read from the command line because the program runs only
// against a throw-away test KDC.

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.NameCallback;
import javax.security.auth.callback.PasswordCallback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import javax.security.auth.login.Configuration;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.token.KerberosSecurity;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public final class WssKerberosBST {
    private static final String SOAP12 = "http://www.w3.org/2003/05/soap-envelope";
    private static final String LOGIN = "wss4jKerberosClient";

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: WssKerberosBST <krb5.conf> <user@REALM> <password> <service@host> <out.xml> <out.key>");
            System.exit(2);
        }
        System.setProperty("java.security.krb5.conf", args[0]);
        System.setProperty("javax.security.auth.useSubjectCredsOnly", "true");
        Configuration.setConfiguration(new PasswordLogin());
        WSSConfig.init();

        DocumentBuilderFactory dbf = DocumentBuilderFactory.newInstance();
        dbf.setNamespaceAware(true);
        Document doc = dbf.newDocumentBuilder().newDocument();
        Element env = doc.createElementNS(SOAP12, "soap:Envelope");
        env.appendChild(doc.createElementNS(SOAP12, "soap:Header"));
        env.appendChild(doc.createElementNS(SOAP12, "soap:Body"));
        doc.appendChild(env);

        WSSecHeader header = new WSSecHeader();
        header.insertSecurityHeader(doc);
        KerberosSecurity bst = new KerberosSecurity(doc);
        bst.retrieveServiceTicket(LOGIN, new Credentials(args[1], args[2]), args[3]);
        bst.addWSUNamespace();
        bst.setID("BST-kerberos-1");
        header.getSecurityHeader().appendChild(bst.getElement());

        TransformerFactory.newInstance().newTransformer()
            .transform(new DOMSource(doc), new StreamResult(new File(args[4])));
        Files.writeString(Path.of(args[5]), Base64.getEncoder().encodeToString(bst.getSecretKey().getEncoded()));
    }

    /** Answers the login module's questions with the given user and password. */
    private static final class Credentials implements CallbackHandler {
        private final String user;
        private final char[] password;

        Credentials(String user, String password) {
            this.user = user;
            this.password = password.toCharArray();
        }

        @Override
        public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
            for (Callback c : callbacks) {
                if (c instanceof NameCallback) {
                    ((NameCallback) c).setName(user);
                } else if (c instanceof PasswordCallback) {
                    ((PasswordCallback) c).setPassword(password);
                } else {
                    throw new UnsupportedCallbackException(c);
                }
            }
        }
    }

    /** A JAAS configuration with one Kerberos password login and no ticket cache. */
    private static final class PasswordLogin extends Configuration {
        @Override
        public AppConfigurationEntry[] getAppConfigurationEntry(String name) {
            Map<String, String> options = new HashMap<>();
            options.put("useTicketCache", "false");
            options.put("storeKey", "false");
            options.put("refreshKrb5Config", "true");
            return new AppConfigurationEntry[] {
                new AppConfigurationEntry("com.sun.security.auth.module.Krb5LoginModule",
                    AppConfigurationEntry.LoginModuleControlFlag.REQUIRED, options)
            };
        }
    }
}
