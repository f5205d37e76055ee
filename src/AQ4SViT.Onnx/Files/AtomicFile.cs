namespace AQ4SViT.Onnx.Files;

/// <summary>
/// Writes files so that readers never see a half-written one: into a temporary file in the same folder, flushed to
/// disk, then renamed over the target (an atomic replace on one file system).
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically; on any failure the temporary file is removed and the old file is untouched.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string temp = Prepare(path);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s =>
        {
            using var writer = new StreamWriter(s, new System.Text.UTF8Encoding(false), 1 << 12, leaveOpen: true);
            writer.Write(text);
        });

    /// <summary>
    /// Creates <paramref name="folder"/> if needed and checks a file can be written there, before any long work starts;
    /// failures are bad input naming <paramref name="what"/> (e.g. <c>--out DIR</c>).
    /// </summary>
    public static string RequireWritableFolder(string folder, string what)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return folder;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            return Core.Throw.BadInput<string>($"{what}: {folder} is not a writable folder ({e.Message})", e);
        }
    }

    /// <summary>A fresh temporary path beside <paramref name="path"/> (same folder, so the final rename stays on one file system).</summary>
    internal static string Prepare(string path)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }

    internal static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
