//! Short byte strings stored inline.
//!
//! A subscription's subject, queue and sid together are usually a few
//! bytes long. A `Box<[u8]>` would give each its own heap
//! block (32 bytes at least with glibc); `SmallBytes` keeps up to 22 bytes
//! in the 24 bytes a boxed slice plus a tag take anyway.

/// Bytes kept inline up to [`SmallBytes::INLINE`] long, on the heap beyond.
#[derive(Debug)]
pub enum SmallBytes {
    Inline(u8, [u8; SmallBytes::INLINE]),
    Heap(Box<[u8]>),
}

impl SmallBytes {
    pub const INLINE: usize = 22;

    /// The parts one after the other, with no intermediate buffer.
    pub fn concat(parts: &[&[u8]]) -> SmallBytes {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > Self::INLINE {
            return SmallBytes::Heap(parts.concat().into_boxed_slice());
        }
        let mut inline = [0u8; Self::INLINE];
        let mut at = 0;
        for part in parts {
            inline[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        SmallBytes::Inline(len as u8, inline)
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            SmallBytes::Inline(len, bytes) => &bytes[..*len as usize],
            SmallBytes::Heap(bytes) => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_up_to_the_limit_then_heap() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        for len in 0..=2 * SmallBytes::INLINE {
            let data: Vec<u8> = (0..len as u8).collect();
            let (a, b) = data.split_at(len / 3);
            let s = SmallBytes::concat(&[a, &[], b]);
            assert_eq!(s.as_bytes(), &data[..]);
            assert_eq!(
                matches!(s, SmallBytes::Inline(..)),
                len <= SmallBytes::INLINE
            );
            assert_eq!(SmallBytes::concat(&[&data]).as_bytes(), &data[..]);
        }
    }
}
