/// The dode version string (`dode --version`, `dode.version`, saved fits).
public let dodeVersion = "0.2.0"
