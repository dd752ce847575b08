//! The structure block tokenized by `fdt-rs`: the crate's only `unsafe`.
//!
//! `fdt_rs::base::DevTree::new` is an `unsafe fn`: it reads the blob with
//! aligned `u32` loads, so the buffer must be 4-byte aligned and exactly
//! `totalsize` long. [`tokens`] copies the blob into an aligned buffer,
//! and stops the tokenizer before it could step past the structure block.
#![allow(
    unsafe_code,
    reason = "fdt-rs's DevTree::new is unsafe; its preconditions are established here"
)]

use fdt_rs::base::parse::ParsedTok;
use fdt_rs::base::DevTree;
use fdt_rs::prelude::FallibleIterator;

use super::Error;

/// One token of the structure block, owned.
#[derive(Debug)]
pub(super) enum Token {
    /// FDT_BEGIN_NODE with the node's name bytes.
    Begin(Vec<u8>),
    /// FDT_PROP: value bytes and the name's offset in the strings block.
    Prop(Vec<u8>, usize),
    /// FDT_END_NODE.
    End,
}

/// The structure block's tokens up to FDT_END (Nops dropped).
///
/// `blob` is exactly `totalsize` bytes whose header was checked by the
/// caller; `struct_start..struct_end` is the structure block, within
/// `blob`, with `struct_start` a multiple of 4.
pub(super) fn tokens(
    blob: &[u8],
    struct_start: usize,
    struct_end: usize,
) -> Result<Vec<Token>, Error> {
    // An aligned copy: over-allocate by 3 and start at the aligned offset.
    // fdt-rs debug-asserts that 4 bytes follow every token, even FDT_END,
    // so the copy gets 4 zero bytes more, and a totalsize that says so.
    let len = blob.len() + 4;
    let total =
        u32::try_from(len).map_err(|_| Error::Malformed("blob larger than 4 GiB".into()))?;
    let mut storage = vec![0u8; len + 3];
    let shift = storage.as_ptr().align_offset(4);
    if shift > 3 {
        return Err(Error::Malformed("cannot align the blob in memory".into()));
    }
    let aligned = &mut storage[shift..shift + len];
    aligned[..blob.len()].copy_from_slice(blob);
    aligned[4..8].copy_from_slice(&total.to_be_bytes());
    let aligned: &[u8] = aligned;

    // SAFETY: `aligned` starts at a 4-byte aligned address (align_offset
    // above) and is exactly as long as the totalsize written into its
    // header above, which is what DevTree::new
    // requires; it checks magic and block alignment itself.
    let tree = unsafe { DevTree::new(aligned) }.map_err(|e| Error::Malformed(format!("{e:?}")))?;
    let mut iter = tree.parse_iter();
    iter.offset = struct_start;
    let mut out = Vec::new();
    loop {
        // fdt-rs bounds-checks its reads but debug-asserts that a token
        // follows; stop it here at the end of the structure block instead.
        if iter
            .offset
            .checked_add(4)
            .is_none_or(|end| end > struct_end)
        {
            return Err(Error::Malformed(
                "structure block ends without FDT_END".into(),
            ));
        }
        let tok = iter
            .next()
            .map_err(|e| Error::Malformed(format!("structure block: {e:?}")))?;
        match tok {
            None => return Ok(out),
            Some(ParsedTok::BeginNode(b)) => out.push(Token::Begin(b.name.to_vec())),
            Some(ParsedTok::Prop(p)) => out.push(Token::Prop(p.prop_buf.to_vec(), p.name_offset)),
            Some(ParsedTok::EndNode) => out.push(Token::End),
            Some(ParsedTok::Nop) => {}
        }
        if iter.offset > struct_end {
            return Err(Error::Malformed(
                "token runs past the structure block".into(),
            ));
        }
    }
}
