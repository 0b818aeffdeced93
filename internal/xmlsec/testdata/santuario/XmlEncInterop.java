// XmlEncInterop runs Apache Santuario's XML Encryption as an independent
// peer for the Go tests. It reads one command per line on stdin, fields
// separated by tabs, and answers each with a line "ok" or "error <text>":
//
//   decrypt  <PKCS#8 DER key> <in.xml> <out.xml>
//       decrypts the first xenc:EncryptedData with the key as KEK
//   encrypt  <DER certificate> <data URI> <transport URI> <digest URI|-> <MGF URI|-> <in.xml> <out.xml>
//       encrypts the root element for the certificate's key

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import javax.crypto.KeyGenerator;
import javax.crypto.SecretKey;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.apache.xml.security.encryption.EncryptedKey;
import org.apache.xml.security.encryption.XMLCipher;
import org.apache.xml.security.keys.KeyInfo;
import org.apache.xml.security.utils.EncryptionConstants;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

public final class XmlEncInterop {
    public static void main(String[] args) throws Exception {
        org.apache.xml.security.Init.init();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            try {
                switch (f[0]) {
                    case "decrypt":
                        decrypt(f[1], f[2], f[3]);
                        break;
                    case "encrypt":
                        encrypt(f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown command " + f[0]);
                }
                System.out.println("ok");
            } catch (Exception e) {
                Throwable t = e;
                StringBuilder msg = new StringBuilder();
                while (t != null) {
                    msg.append(t).append("; ");
                    t = t.getCause();
                }
                System.out.println("error " + msg.toString().replace('\n', ' '));
            }
            System.out.flush();
        }
    }

    private static Document parse(String path) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return f.newDocumentBuilder().parse(new File(path));
    }

    private static void write(Document doc, String path) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        t.setOutputProperty(OutputKeys.OMIT_XML_DECLARATION, "yes");
        t.transform(new DOMSource(doc), new StreamResult(new File(path)));
    }

    private static void decrypt(String keyPath, String inPath, String outPath) throws Exception {
        byte[] der = Files.readAllBytes(Paths.get(keyPath));
        PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
        Document doc = parse(inPath);
        Element encData = (Element) doc.getElementsByTagNameNS(
                EncryptionConstants.EncryptionSpecNS, EncryptionConstants._TAG_ENCRYPTEDDATA).item(0);
        if (encData == null) {
            throw new IllegalArgumentException("no EncryptedData in " + inPath);
        }
        XMLCipher cipher = XMLCipher.getInstance();
        cipher.init(XMLCipher.DECRYPT_MODE, null);
        cipher.setKEK(key);
        cipher.doFinal(doc, encData);
        write(doc, outPath);
    }

    private static void encrypt(String certPath, String dataURI, String transportURI, String digestURI,
            String mgfURI, String inPath, String outPath) throws Exception {
        X509Certificate cert;
        try (InputStream s = new FileInputStream(certPath)) {
            cert = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(s);
        }
        Document doc = parse(inPath);
        SecretKey key = generateKey(dataURI);

        XMLCipher keyCipher = XMLCipher.getInstance(transportURI, null, "-".equals(digestURI) ? null : digestURI);
        keyCipher.init(XMLCipher.WRAP_MODE, cert.getPublicKey());
        EncryptedKey encryptedKey = keyCipher.encryptKey(doc, key, "-".equals(mgfURI) ? null : mgfURI, null);

        XMLCipher dataCipher = XMLCipher.getInstance(dataURI);
        dataCipher.init(XMLCipher.ENCRYPT_MODE, key);
        KeyInfo keyInfo = new KeyInfo(doc);
        keyInfo.add(encryptedKey);
        dataCipher.getEncryptedData().setKeyInfo(keyInfo);
        dataCipher.doFinal(doc, doc.getDocumentElement(), false);
        write(doc, outPath);
    }

    private static SecretKey generateKey(String dataURI) throws Exception {
        KeyGenerator g;
        if (dataURI.endsWith("#tripledes-cbc")) {
            g = KeyGenerator.getInstance("DESede");
            g.init(168);
        } else {
            g = KeyGenerator.getInstance("AES");
            g.init(dataURI.contains("128") ? 128 : dataURI.contains("192") ? 192 : 256);
        }
        return g.generateKey();
    }
}
